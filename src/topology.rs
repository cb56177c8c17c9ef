//! The controller tree on petgraph.
/// The controller tree of a plan.
#[derive(Clone, Debug, Default)]
pub struct Topology;
