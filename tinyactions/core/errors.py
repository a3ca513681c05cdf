"""The user error every phase raises about a setting: one line that starts with the dotted key of
params.yaml it is about (the stages print it without a traceback)."""


class SettingsError(ValueError):
    """A missing, unknown or invalid parameter; the message is one line starting with its dotted key."""
