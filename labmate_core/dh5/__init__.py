from .file import DH5
