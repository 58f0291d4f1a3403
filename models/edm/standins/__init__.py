"""Minimal stand-ins for the two EDM packages that pickled network source imports.

``torch_utils.persistence`` (the decorator that makes classes pickle with their source) and
``torch_utils.misc`` (shape assertions, cached constants), written for this project so that EDM
snapshots can be read and written without EDM's repository. edm_pickle installs them as
``torch_utils.*`` and ``dnnlib`` in ``sys.modules``.
"""
