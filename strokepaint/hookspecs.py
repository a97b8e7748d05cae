"""What a plugin can provide. A plugin is a module named by an entry point in the group
"strokepaint" that implements these hooks with @strokepaint.hookimpl."""

import pluggy

hookspec = pluggy.HookspecMarker("strokepaint")
hookimpl = pluggy.HookimplMarker("strokepaint")


@hookspec
def register_brushes(register):
    """Register brushes by calling register(brush) with instances of strokepaint.Brush subclasses."""
