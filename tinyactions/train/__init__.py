"""Training: the paper's recipe as mmengine configs, the mmaction2 components it registers, one resumable run through
mmengine's Runner."""
