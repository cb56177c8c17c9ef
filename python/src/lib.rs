//! The `pciplan` Python package's native module, `pciplan._pciplan` (PyO3).
//!
//! Every function takes the *texts* of the files the CLI would read and
//! returns the bytes the CLI would print: `assign` is `pciplan assign`,
//! `explain` is `pciplan explain`, `diff` is `pciplan diff`. A refusal
//! raises a `PciplanError` subclass (`XmlError`, `InternalError`,
//! `ConfigUnsupportedError`) with libvirt's error class and message. The
//! `Plan` class is the library path: parse once, assign, look at the
//! devices, write the XML or a QEMU command line.
//!
//! `attach` / `detach` (live hot-plug on XML) will sit next to `assign`
//! once the library has them (`pciplan::libvirt` does not yet); the
//! `Plan` class is where they belong.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use pciplan::libvirt::{ExplainText, Inputs, write_domain};
use pciplan::{ErrorClass, LibvirtVersion};

create_exception!(
    _pciplan,
    PciplanError,
    PyException,
    "A definition libvirt would refuse: `error_class` is libvirt's error code name \
     (VIR_ERR_XML_ERROR, VIR_ERR_INTERNAL_ERROR, VIR_ERR_CONFIG_UNSUPPORTED), `message` \
     libvirt's message, `explanation` (explain only) the refusal's explanation."
);
create_exception!(
    _pciplan,
    XmlError,
    PciplanError,
    "VIR_ERR_XML_ERROR (`XML error: ...`)."
);
create_exception!(
    _pciplan,
    InternalError,
    PciplanError,
    "VIR_ERR_INTERNAL_ERROR (`internal error: ...`)."
);
create_exception!(
    _pciplan,
    ConfigUnsupportedError,
    PciplanError,
    "VIR_ERR_CONFIG_UNSUPPORTED (`unsupported configuration: ...`)."
);

/// The Python exception for a refusal.
fn refusal(py: Python<'_>, e: &pciplan::Error, explanation: Option<String>) -> PyErr {
    let message = e.to_string();
    let err = match e.class() {
        ErrorClass::Xml => XmlError::new_err(message.clone()),
        ErrorClass::Internal => InternalError::new_err(message.clone()),
        ErrorClass::Unsupported => ConfigUnsupportedError::new_err(message.clone()),
        // Live attach and detach refusals (not in the bindings yet).
        ErrorClass::OperationUnsupported
        | ErrorClass::OperationFailed
        | ErrorClass::DeviceMissing => PciplanError::new_err(message.clone()),
    };
    let value = err.value(py);
    let set = value
        .setattr("error_class", e.class().libvirt_code())
        .and_then(|()| value.setattr("message", message))
        .and_then(|()| value.setattr("explanation", explanation));
    match set {
        Ok(()) => err,
        Err(other) => other,
    }
}

fn libvirt_version(v: &str) -> PyResult<LibvirtVersion> {
    v.parse()
        .map_err(|e: pciplan::version::UnknownVersion| PyValueError::new_err(e.to_string()))
}

/// Malformed capabilities or host table: a `ValueError` (the CLI's exit 2).
fn inputs(caps: Option<&str>, host_pci: Option<&str>, libvirt: &str) -> PyResult<Inputs> {
    Inputs::from_texts(caps, host_pci, libvirt_version(libvirt)?)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `pciplan assign`: the domain XML with PCI addresses and the controllers
/// libvirt would add; with `policy` (the text of a policy file,
/// docs/policy.md) `pciplan assign --policy`. A malformed policy is a
/// `ValueError`.
#[pyfunction]
#[pyo3(signature = (xml, caps=None, host_pci=None, libvirt="9.0", policy=None))]
fn assign(
    py: Python<'_>,
    xml: &str,
    caps: Option<&str>,
    host_pci: Option<&str>,
    libvirt: &str,
    policy: Option<&str>,
) -> PyResult<String> {
    let inputs = inputs(caps, host_pci, libvirt)?;
    match policy {
        None => inputs.assign(xml),
        Some(text) => {
            let policy = pciplan::policy::Policy::from_toml(text)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            inputs.assign_with(xml, &policy)
        }
    }
    .map_err(|e| refusal(py, &e, None))
}

/// `pciplan explain`: why each device has its address. A refused
/// definition raises, with the refusal's explanation in `explanation`.
#[pyfunction]
#[pyo3(signature = (xml, caps=None, host_pci=None, libvirt="9.0"))]
fn explain(
    py: Python<'_>,
    xml: &str,
    caps: Option<&str>,
    host_pci: Option<&str>,
    libvirt: &str,
) -> PyResult<String> {
    match inputs(caps, host_pci, libvirt)?.explain(xml) {
        Ok(ExplainText::Placed(text)) => Ok(text),
        Ok(ExplainText::Refused { text, error }) => Err(refusal(py, &error, Some(text))),
        Err(e) => Err(refusal(py, &e, None)),
    }
}

/// `pciplan diff`: the guest-ABI changes from `old` to `new`, as
/// `(text, abi_unchanged)`. Keyword options: `caps`, `host_pci` (both
/// sides), `old_caps`, `new_caps`, `old_libvirt`, `new_libvirt`.
#[pyfunction]
#[pyo3(signature = (old, new, **options))]
fn diff(
    py: Python<'_>,
    old: &str,
    new: &str,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<(String, bool)> {
    const KNOWN: [&str; 6] = [
        "caps",
        "host_pci",
        "old_caps",
        "new_caps",
        "old_libvirt",
        "new_libvirt",
    ];
    let mut opt = std::collections::HashMap::<String, Option<String>>::new();
    for (k, v) in options.into_iter().flat_map(|d| d.iter()) {
        let key: String = k.extract()?;
        if !KNOWN.contains(&key.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "diff() got an unexpected keyword argument '{key}'"
            )));
        }
        opt.insert(key, v.extract()?);
    }
    let get = |k: &str| opt.get(k).cloned().flatten();
    let side = |caps: &str, libvirt: &str| {
        inputs(
            get(caps).or_else(|| get("caps")).as_deref(),
            get("host_pci").as_deref(),
            get(libvirt).as_deref().unwrap_or("9.0"),
        )
    };
    let (old_in, new_in) = (
        side("old_caps", "old_libvirt")?,
        side("new_caps", "new_libvirt")?,
    );
    old_in
        .diff(old, new, &new_in)
        .map_err(|e| refusal(py, &e, None))
}

/// A parsed domain: the library path. `Plan(xml, caps=None, host_pci=None,
/// libvirt="9.0")` parses (and raises as `assign` does); `assign()` plans
/// in place (unchanged on failure); `to_xml()` writes the domain back.
#[pyclass(module = "pciplan", unsendable)]
struct Plan {
    xml: String,
    inputs: Inputs,
    before: pciplan::Plan,
    plan: pciplan::Plan,
    assigned: bool,
}

#[pymethods]
impl Plan {
    #[new]
    #[pyo3(signature = (xml, caps=None, host_pci=None, libvirt="9.0"))]
    fn new(
        py: Python<'_>,
        xml: String,
        caps: Option<&str>,
        host_pci: Option<&str>,
        libvirt: &str,
    ) -> PyResult<Plan> {
        let inputs = inputs(caps, host_pci, libvirt)?;
        let (_, plan) = inputs.load(&xml).map_err(|e| refusal(py, &e, None))?;
        Ok(Plan {
            xml,
            inputs,
            before: plan.clone(),
            plan,
            assigned: false,
        })
    }

    /// Assigns every address (libvirt's two passes); raises on refusal and
    /// then leaves the plan as it was.
    fn assign(&mut self, py: Python<'_>) -> PyResult<()> {
        self.plan.assign().map_err(|e| refusal(py, &e, None))?;
        self.assigned = true;
        Ok(())
    }

    /// Whether `assign()` succeeded.
    #[getter]
    fn assigned(&self) -> bool {
        self.assigned
    }

    /// The machine type, as the plan resolved it (e.g. `pc-q35-7.2`).
    #[getter]
    fn machine(&self) -> String {
        self.plan.machine().name().to_string()
    }

    /// The domain XML with the plan's addresses (the input as it is before
    /// `assign()`).
    fn to_xml(&self, py: Python<'_>) -> PyResult<String> {
        let (doc, _) = self
            .inputs
            .load(&self.xml)
            .map_err(|e| refusal(py, &e, None))?;
        write_domain(&doc, &self.plan).map_err(|e| refusal(py, &e, None))
    }

    /// One dict per device: `element`, `ordinal` (0-based among the
    /// devices of its element), `name`, `address` (`DDDD:BB:SS.F` or `None`) and `origin`
    /// (`given`, `assigned`, `added`, ...), as `assign --format json`.
    fn devices<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let (doc, _) = self
            .inputs
            .load(&self.xml)
            .map_err(|e| refusal(py, &e, None))?;
        let ids = pciplan::libvirt::identities(&doc, &self.plan);
        pciplan::export::records(&self.before, &self.plan, &ids)
            .into_iter()
            .map(|r| {
                let d = PyDict::new(py);
                d.set_item("element", r.element)?;
                d.set_item("ordinal", r.ordinal)?;
                d.set_item("name", r.name)?;
                d.set_item("address", r.address.map(|a| a.to_string()))?;
                d.set_item("origin", r.origin)?;
                Ok(d)
            })
            .collect()
    }

    /// `pciplan qemu-args`: the QEMU command line of the assigned plan,
    /// one argument per item. Raises `ValueError` when the plan has none.
    fn qemu_args(&self) -> PyResult<Vec<String>> {
        pciplan::qemu::command_line(&self.plan).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    fn __repr__(&self) -> String {
        format!(
            "<pciplan.Plan machine={:?} devices={} assigned={}>",
            self.plan.machine().name(),
            self.plan.devices().len(),
            self.assigned
        )
    }
}

/// The native module.
#[pymodule]
fn _pciplan(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(assign, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_class::<Plan>()?;
    let py = m.py();
    m.add("PciplanError", py.get_type::<PciplanError>())?;
    m.add("XmlError", py.get_type::<XmlError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add(
        "ConfigUnsupportedError",
        py.get_type::<ConfigUnsupportedError>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
