mod delivery;
pub mod receiver;
