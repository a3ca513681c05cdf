"""Super-resolution: RealBasicVSR's geometry, the generator in the official checkpoint format, windowed inference
over the dataset, fitting on the demo."""
