"""The codec of a genomap store's images: one definition for the stores written here
(:func:`genomap_fast.store.write_zarr`) and by dask workers
(:func:`genomap_fast.distributed.write_images`), so neither module imports the other."""
from __future__ import annotations

IMAGE_LEVEL = 0  # zstd level of the images (zarr's default codec, pinned so stores do not drift)


def image_compressor():
    """The codec of a store's ``images``.

    Returns
    -------
    zarr.codecs.ZstdCodec
        zstd, zarr's default for numeric arrays, at a pinned level, with the zstd frame checksum
        on (a damaged chunk fails to decode instead of giving other values).

    Examples
    --------
    >>> from genomap_fast.store import image_compressor
    >>> image_compressor().checksum
    True
    """
    from zarr.codecs import ZstdCodec

    return ZstdCodec(level=IMAGE_LEVEL, checksum=True)
