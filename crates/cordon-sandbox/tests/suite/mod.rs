mod escape;
mod filesystem;
mod lifecycle;
mod support;
