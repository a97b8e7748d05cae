"""The built-in brushes, registered through the same entry point as any third-party plugin
(pyproject.toml: [project.entry-points.strokepaint] builtin = "strokepaint.brushes")."""

from strokepaint import hookimpl


@hookimpl
def register_brushes(register):
    from .bezier import Bezier
    from .circle import Circle
    from .line import Line
    from .triangle import Triangle

    for brush in (Bezier, Line, Circle, Triangle):
        register(brush())
