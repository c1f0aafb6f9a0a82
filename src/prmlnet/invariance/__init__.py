from .tangent import *  # noqa
from .images import *  # noqa
from .transformed import *  # noqa
