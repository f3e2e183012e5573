"""vrgmi: a VR/3D Graded Motor Imagery engine for phantom limb pain."""

__version__ = "0.1.0"
