from . import utils  # minimal stand-in until helper nn-py's nn package is merged
