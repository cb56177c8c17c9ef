"""pciplan's Python API against the pciplan CLI: same inputs, same bytes.

The CLI is ``$PCIPLAN_CLI`` (CI sets it), else ``target/release/pciplan`` or
``target/debug/pciplan`` of this repository; tests comparing with it skip
when none is built.
"""

import ast
import os
import pathlib
import subprocess

import pytest

import pciplan

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ROOT / "tests/data/libvirt-9.0/cases"
PROBED_X86 = ROOT / "tests/data/probed/caps-qemu-7.2.xml"
LARGE = ROOT / "benches/data/pc-bridges-7679.xml"


def cli_path():
    env = os.environ.get("PCIPLAN_CLI")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "pciplan"
        if p.exists():
            return str(p)
    pytest.skip("no pciplan CLI built (set PCIPLAN_CLI)")


def cli(*args):
    """Runs the CLI: (exit status, stdout, stderr)."""
    r = subprocess.run([cli_path(), *map(str, args)], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def text(path):
    return pathlib.Path(path).read_text()


@pytest.mark.parametrize("example", ["q35-virtio.xml", "pc-basic.xml"])
def test_assign_equals_the_cli_on_the_examples(example):
    path = ROOT / "examples" / example
    status, out, _ = cli("assign", path)
    assert status == 0
    assert pciplan.assign(text(path)) == out


@pytest.mark.parametrize(
    "case",
    ["pci-bridge", "pci-many", "pci-expander-bus", "pcie-expander-bus", "aarch64-virtio-pci-default.aarch64-latest"],
)
def test_assign_with_probed_caps_equals_the_cli(case):
    path = CASES / case / "input.xml"
    status, out, err = cli("assign", "--caps", PROBED_X86, path)
    if status == 0:
        assert pciplan.assign(text(path), caps=text(PROBED_X86)) == out
    else:
        with pytest.raises(pciplan.PciplanError) as e:
            pciplan.assign(text(path), caps=text(PROBED_X86))
        assert "error: " + e.value.message + "\n" == err


def test_assign_with_host_pci_equals_the_cli(tmp_path):
    xml = """<domain type='kvm'><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
  <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>
</devices></domain>
"""
    host = "address\tis_pcie\n0000:03:00.0\tfalse\n"
    (tmp_path / "d.xml").write_text(xml)
    (tmp_path / "h.tsv").write_text(host)
    status, out, _ = cli("assign", "--host-pci", tmp_path / "h.tsv", tmp_path / "d.xml")
    assert status == 0
    assert pciplan.assign(xml, host_pci=host) == out


def test_assign_as_libvirt_11_3_equals_the_cli():
    path = ROOT / "examples/q35-virtio.xml"
    status, out, _ = cli("assign", "--libvirt", "11.3", path)
    assert status == 0
    assert pciplan.assign(text(path), libvirt="11.3") == out


def test_assign_under_a_policy_equals_the_cli(tmp_path):
    path = ROOT / "examples/q35-virtio.xml"
    policy = "version = 1\nspare_ports = 4\nexpand = true\n"
    (tmp_path / "p.toml").write_text(policy)
    status, out, _ = cli("assign", "--policy", tmp_path / "p.toml", path)
    assert status == 0
    assert pciplan.assign(text(path), policy=policy) == out
    assert out != pciplan.assign(text(path))


def test_a_malformed_policy_is_a_value_error():
    with pytest.raises(ValueError) as e:
        pciplan.assign(text(ROOT / "examples/q35-virtio.xml"), policy="version = 1\nspares = 2\n")
    assert "unknown key 'spares'" in str(e.value)


def test_a_large_domain_equals_the_cli():
    xml = text(LARGE)
    assert xml.count("<interface") > 7000
    status, out, _ = cli("assign", LARGE)
    assert status == 0
    assert pciplan.assign(xml) == out


@pytest.mark.parametrize(
    "case, exception, error_class",
    [
        ("440fx-ide-address-conflict", pciplan.XmlError, "VIR_ERR_XML_ERROR"),
        ("pcie-root-port-too-many", pciplan.InternalError, "VIR_ERR_INTERNAL_ERROR"),
        (
            "virtio-iommu-invalid-address-type.x86_64-latest",
            pciplan.ConfigUnsupportedError,
            "VIR_ERR_CONFIG_UNSUPPORTED",
        ),
    ],
)
def test_a_refusal_raises_with_libvirts_class_and_message(case, exception, error_class):
    path = CASES / case / "input.xml"
    status, _, err = cli("assign", path)
    assert status == 1
    with pytest.raises(exception) as e:
        pciplan.assign(text(path))
    assert isinstance(e.value, pciplan.PciplanError)
    assert e.value.error_class == error_class
    assert "error: " + e.value.message + "\n" == err
    assert str(e.value) == e.value.message


def test_malformed_xml_is_an_xml_error():
    with pytest.raises(pciplan.XmlError) as e:
        pciplan.assign("<domain")
    assert e.value.message.startswith("XML error: ")


def test_malformed_caps_is_a_value_error():
    with pytest.raises(ValueError):
        pciplan.assign(text(ROOT / "examples/q35-virtio.xml"), caps="<domain/>")


def test_malformed_host_pci_is_a_value_error():
    with pytest.raises(ValueError):
        pciplan.assign(text(ROOT / "examples/q35-virtio.xml"), host_pci="address\tis_pcie\n0000:03:00.0\tno\n")


def test_unknown_libvirt_version_is_a_value_error():
    with pytest.raises(ValueError):
        pciplan.assign(text(ROOT / "examples/q35-virtio.xml"), libvirt="1.0")


def test_explain_equals_the_cli():
    path = ROOT / "examples/q35-virtio.xml"
    status, out, _ = cli("explain", path)
    assert status == 0
    assert pciplan.explain(text(path)) == out


def test_explain_of_a_refusal_carries_the_clis_explanation():
    path = CASES / "pcie-root-port-too-many/input.xml"
    status, out, _ = cli("explain", path)
    assert status == 1
    with pytest.raises(pciplan.InternalError) as e:
        pciplan.explain(text(path))
    assert e.value.explanation == out


def test_diff_equals_the_cli():
    old, new = ROOT / "examples/q35-virtio.xml", ROOT / "examples/q35-virtio-edited.xml"
    status, out, _ = cli("diff", old, new)
    report, unchanged = pciplan.diff(text(old), text(new))
    assert report == out
    assert unchanged == (status == 0)


def test_diff_rejects_an_unknown_keyword():
    with pytest.raises(TypeError):
        pciplan.diff("<domain/>", "<domain/>", cap="x")


def test_plan_assign_then_to_xml_equals_assign():
    xml = text(ROOT / "examples/q35-virtio.xml")
    plan = pciplan.Plan(xml)
    assert not plan.assigned
    plan.assign()
    assert plan.assigned
    assert plan.to_xml() == pciplan.assign(xml)


def test_plan_devices_report_every_address():
    plan = pciplan.Plan(text(ROOT / "examples/q35-virtio.xml"))
    plan.assign()
    devices = plan.devices()
    nic = [d for d in devices if d["element"] == "interface"]
    assert len(nic) == 2
    assert all(d["address"] is not None for d in nic)
    assert {d["origin"] for d in devices} >= {"assigned"}


def test_plan_machine_is_resolved():
    plan = pciplan.Plan(text(ROOT / "examples/q35-virtio.xml"), caps=text(PROBED_X86))
    assert plan.machine == "pc-q35-7.2"


def test_plan_qemu_args_equal_the_cli():
    path = ROOT / "examples/q35-virtio.xml"
    status, out, _ = cli("qemu-args", path)
    assert status == 0
    plan = pciplan.Plan(text(path))
    plan.assign()
    assert plan.qemu_args() == out.splitlines()


def test_a_failed_plan_assign_changes_nothing():
    xml = text(CASES / "pcie-root-port-too-many/input.xml")
    plan = pciplan.Plan(xml)
    before = plan.to_xml()
    with pytest.raises(pciplan.InternalError):
        plan.assign()
    assert not plan.assigned
    assert plan.to_xml() == before


def test_the_stubs_name_every_public_name():
    stub = pathlib.Path(pciplan.__file__).with_name("_pciplan.pyi")
    tree = ast.parse(stub.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    assert set(pciplan.__all__) <= names


def test_version_is_the_crates():
    assert pciplan.__version__ == "0.1.0"
