"""Medical images: DICOM series and NIfTI volumes in real units (Hounsfield units kept), with their geometry."""
