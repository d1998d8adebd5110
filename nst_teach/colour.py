"""The British spelling of `nst_teach.color`, kept so that older code still runs.

``from nst_teach import colour`` gives the same functions, with
``keep_content_colours`` and ``match_colours`` as other names of
`nst_teach.color.keep_content_colors` and `nst_teach.color.match_colors`.
The library's names follow Keras and TensorFlow, which spell ``color``.
"""

from .color import *  # noqa: F401,F403
from .color import __all__ as _COLOR_NAMES
from .color import keep_content_colors, match_colors

keep_content_colours = keep_content_colors
match_colours = match_colors

__all__ = [*_COLOR_NAMES, "keep_content_colours", "match_colours"]
