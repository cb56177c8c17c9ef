"""PCI/PCIe address assignment for libvirt domain XML, exactly as libvirt 9.0's
QEMU driver does it.

Every function takes the *texts* of the files the ``pciplan`` CLI would read
(the domain XML, a QEMU capabilities XML for ``--caps``, a host PCI table for
``--host-pci``) and returns the text the CLI prints:

>>> import pciplan
>>> out = pciplan.assign(open("examples/q35-virtio.xml").read())   # doctest: +SKIP

A definition libvirt would refuse raises a :class:`PciplanError` subclass
carrying libvirt's error class (``error_class``) and message (``message``).
:class:`Plan` is the library path: parse, assign, inspect, write.
"""

from ._pciplan import (
    ConfigUnsupportedError,
    InternalError,
    PciplanError,
    Plan,
    XmlError,
    __version__,
    assign,
    diff,
    explain,
)

# attach() / detach() (live hot-plug on XML) join this list once the
# library's libvirt front end has them.
__all__ = [
    "ConfigUnsupportedError",
    "InternalError",
    "PciplanError",
    "Plan",
    "XmlError",
    "__version__",
    "assign",
    "diff",
    "explain",
]
