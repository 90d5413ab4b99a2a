mod escape;
mod escape_more;
mod filesystem;
mod lifecycle;
mod network;
mod secrets;
mod support;
mod terminal;
