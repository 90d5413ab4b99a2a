mod escape;
mod filesystem;
mod lifecycle;
mod secrets;
mod support;
