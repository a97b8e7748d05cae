"""strokepaint: paint pictures with brush strokes, and get the strokes back as data and vector art."""

from strokepaint.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["Brush", "Param", "Painting", "Tools", "__version__", "hookimpl", "paint"]


def __getattr__(name: str):  # keep `import strokepaint` light: torch loads only when needed
    if name in ("Brush", "Param"):
        from strokepaint import brush

        return getattr(brush, name)
    if name in ("paint", "Painting", "Tools"):
        from strokepaint import engine

        return getattr(engine, name)
    raise AttributeError(name)
