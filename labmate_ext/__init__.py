"""IPython extension: ``%load_ext labmate_ext``."""
