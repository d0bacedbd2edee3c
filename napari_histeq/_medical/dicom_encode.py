"""DICOM files encoded element by element by pydicom, each distinct element once per series.

A derived series repeats most of its source's elements in file after file
(patient, study, equipment, most of the geometry), and pydicom encoding them
again for every file was most of the time a series took to write.
:class:`SeriesEncoder` hands each element to pydicom's own
:func:`~pydicom.filewriter.write_data_element` once per distinct value and
keeps the bytes; a file is then laid out as :func:`pydicom.dcmwrite` lays it
out: the preamble and ``DICM``, the file meta group (explicit VR, its group
length first), the data set's elements in tag order, the pixels last (a test
compares the two byte for byte).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: (7FE0,0010) Pixel Data
PIXEL_DATA = 0x7FE00010
#: (0002,0000) File Meta Information Group Length
GROUP_LENGTH = 0x00020000


class SeriesEncoder:
    r"""The encoded bytes of a series' elements, each distinct element encoded once.

    Parameters
    ----------
    implicit_vr : bool
        The data sets' encoding (always little endian); the file meta group is explicit VR, as the
        standard says.

    Examples
    --------
    >>> from pydicom.dataelem import DataElement
    >>> encoder = SeriesEncoder(implicit_vr=False)
    >>> encoder.element(DataElement(0x00100020, "LO", "PHANTOM"), "ISO_IR 100")
    b'\x10\x00 \x00LO\x08\x00PHANTOM '
    """

    def __init__(self, implicit_vr: bool):
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_data_element

        self._bytes_io, self._write = DicomBytesIO, write_data_element
        self.implicit_vr = implicit_vr
        self._memo: dict = {}
        self._shared: dict = {}  # id -> element: held, so that no other element takes its id

    def share(self, elements: Iterable) -> None:
        """Encode ``elements`` once for every file: they are the series' own, never changed while it is written."""
        for element in elements:
            self._shared[id(element)] = element

    def _encode(self, element, implicit_vr, charset) -> bytes:
        fp = self._bytes_io()
        fp.is_little_endian, fp.is_implicit_VR = True, implicit_vr
        self._write(fp, element, charset)
        return fp.getvalue()

    def element(self, element, charset, *, meta=False) -> bytes:
        """``element``'s bytes (tag, VR where explicit, length, value) in a data set of ``charset``: a raw
        element (its bytes as read, in this encoding) or a shared one from the memo, any other encoded afresh.
        """
        implicit_vr = False if meta else self.implicit_vr
        if element.is_raw:
            key = (implicit_vr, element.tag, element.VR, element.value, element.length == 0xFFFFFFFF)
        elif id(element) in self._shared:
            key = (implicit_vr, id(element), repr(charset))
        else:
            return self._encode(element, implicit_vr, charset)
        encoded = self._memo.get(key)
        if encoded is None:
            encoded = self._memo[key] = self._encode(element, implicit_vr, charset)
        return encoded

    def value(self, tag: int, vr: str, value, charset, *, meta=False) -> bytes:
        """The bytes of an element made of a plain value (numbers, strings, or a tuple of them)."""
        implicit_vr = False if meta else self.implicit_vr
        key = (implicit_vr, tag, vr, repr(value), repr(charset))  # repr: 1 and 1.0 are written differently
        encoded = self._memo.get(key)
        if encoded is None:
            from pydicom.dataelem import DataElement

            element = DataElement(tag, vr, list(value) if isinstance(value, tuple) else value)
            encoded = self._memo[key] = self._encode(element, implicit_vr, charset)
        return encoded

    def head(self, preamble: bytes, meta: Mapping[int, bytes], elements: Mapping[int, bytes],
             pixel_bytes: int) -> bytes:
        """A file up to its pixel values: ``preamble``, ``DICM``, the ``meta`` group, the ``elements`` in
        tag order (retired group lengths left out, as pydicom does) and Pixel Data's tag and length.
        """
        meta_bytes = b"".join(meta[tag] for tag in sorted(meta) if tag != GROUP_LENGTH)
        group_length = self.value(GROUP_LENGTH, "UL", len(meta_bytes), None, meta=True)
        data = b"".join(elements[tag] for tag in sorted(elements)
                        if not ((tag & 0xFFFF) == 0 and tag >> 16 > 6) and tag != PIXEL_DATA)
        fp = self._bytes_io()
        fp.is_little_endian, fp.is_implicit_VR = True, self.implicit_vr
        fp.write_tag(PIXEL_DATA)  # as write_data_element writes an OW element's header
        if not self.implicit_vr:
            fp.write(b"OW")
            fp.write_US(0)
        fp.write_UL(pixel_bytes)
        return b"".join((preamble, b"DICM", group_length, meta_bytes, data, fp.getvalue()))
