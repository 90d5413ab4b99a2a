mod escape;
mod filesystem;
mod lifecycle;
mod network;
mod secrets;
mod support;
mod terminal;
