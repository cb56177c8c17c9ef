"""Type stubs of the native module ``pciplan._pciplan``."""

from typing import Optional, TypedDict

__version__: str

class PciplanError(Exception):
    """A definition libvirt would refuse."""

    error_class: str
    """libvirt's error code name: ``VIR_ERR_XML_ERROR``, ``VIR_ERR_INTERNAL_ERROR``
    or ``VIR_ERR_CONFIG_UNSUPPORTED``."""
    message: str
    """libvirt's message, with its class prefix (``XML error: ...``)."""
    explanation: Optional[str]
    """For :func:`explain`: the refusal's explanation (rule, devices, fix)."""

class XmlError(PciplanError):
    """``VIR_ERR_XML_ERROR``."""

class InternalError(PciplanError):
    """``VIR_ERR_INTERNAL_ERROR``."""

class ConfigUnsupportedError(PciplanError):
    """``VIR_ERR_CONFIG_UNSUPPORTED``."""

def assign(
    xml: str,
    caps: Optional[str] = None,
    host_pci: Optional[str] = None,
    libvirt: str = "9.0",
    policy: Optional[str] = None,
) -> str:
    """``pciplan assign``: the domain XML with PCI addresses and the controllers
    libvirt would add, byte for byte the CLI's output; with ``policy`` (the
    text of a policy file, docs/policy.md) ``pciplan assign --policy``.

    :raises PciplanError: the definition is refused (a policy that cannot be
        met is a ``ConfigUnsupportedError``).
    :raises ValueError: malformed ``caps``, ``host_pci`` or ``policy``, unknown
        ``libvirt``.
    """

def explain(
    xml: str,
    caps: Optional[str] = None,
    host_pci: Optional[str] = None,
    libvirt: str = "9.0",
) -> str:
    """``pciplan explain``: why every device has its address.

    :raises PciplanError: refused; ``explanation`` holds the CLI's refusal text.
    """

def diff(
    old: str,
    new: str,
    *,
    caps: Optional[str] = None,
    host_pci: Optional[str] = None,
    old_caps: Optional[str] = None,
    new_caps: Optional[str] = None,
    old_libvirt: Optional[str] = None,
    new_libvirt: Optional[str] = None,
) -> tuple[str, bool]:
    """``pciplan diff``: ``(text, abi_unchanged)``."""

class Device(TypedDict):
    element: str
    ordinal: int
    name: str
    address: Optional[str]
    origin: str

class Plan:
    """A parsed domain (the library path)."""

    def __init__(
        self,
        xml: str,
        caps: Optional[str] = None,
        host_pci: Optional[str] = None,
        libvirt: str = "9.0",
    ) -> None: ...
    def assign(self) -> None:
        """Assigns every address; on refusal raises and leaves the plan unchanged."""
    @property
    def assigned(self) -> bool: ...
    @property
    def machine(self) -> str: ...
    def to_xml(self) -> str:
        """The domain XML with the plan's addresses."""
    def devices(self) -> list[Device]:
        """One record per device (as ``assign --format json``)."""
    def qemu_args(self) -> list[str]:
        """``pciplan qemu-args``, one argument per item."""
