"""The application layer: what a DVC stage does around its library call, and the commands users run by hand
(predict, profiles, sharing, the plots page, the tinyactions command)."""
