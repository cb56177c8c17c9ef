//! Why a policy cannot be met.

use thiserror::Error;

/// A policy that cannot be met on this definition. The message names the
/// ceiling or budget and the figures a caller needs to act.
///
/// ```
/// use pciplan::policy::PolicyError;
/// let e = PolicyError::Ceiling { ceiling: "bus numbers", used: 256, limit: 256, fits: 1856, wanted: 2000 };
/// assert_eq!(e.to_string(), "policy: bus numbers exhausted: 256 of 256; 1856 of the 2000 devices to place would fit");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The machine has no PCI topology the policy can grow (pSeries PHBs,
    /// s390 zPCI, a machine without PCI).
    #[error("policy: {what} is not available on machine '{machine}'")]
    Unsupported {
        /// The policy feature.
        what: &'static str,
        /// The machine type.
        machine: String,
    },
    /// A real ceiling of the hardware is reached even with `expand`.
    #[error(
        "policy: {ceiling} exhausted: {used} of {limit}; {fits} of the {wanted} devices to place would fit"
    )]
    Ceiling {
        /// Which ceiling (`bus numbers`, `root complex slots`).
        ceiling: &'static str,
        /// How much of it the largest plan that fits uses.
        used: usize,
        /// The ceiling.
        limit: usize,
        /// How many of the devices to place fit.
        fits: usize,
        /// How many devices were to be placed.
        wanted: usize,
    },
    /// A budget checked before boot is exceeded.
    #[error("policy: {budget} budget exceeded: {used} of {limit}")]
    Budget {
        /// Which budget (`I/O windows`).
        budget: &'static str,
        /// How much the plan needs.
        used: usize,
        /// How much there is.
        limit: usize,
    },
    /// A device is picked by two groups.
    #[error("policy: device {device} is in groups '{first}' and '{second}'")]
    TwoGroups {
        /// The device.
        device: String,
        /// One group.
        first: String,
        /// The other.
        second: String,
    },
    /// A live attach under the policy would not put the device where a
    /// cold plan puts it (no spare port left for it).
    #[error(
        "policy: the attach puts the device at {live} but a cold plan of the definition puts it at {cold}; no spare port is left for it (raise spare_ports and re-plan)"
    )]
    NotInSpare {
        /// The live address (`none` when it has none).
        live: String,
        /// The cold plan's address (`none` when it has none).
        cold: String,
    },
    /// `strict`: the controllers are no tree.
    #[error("policy: strict: {0}")]
    Strict(String),
}
