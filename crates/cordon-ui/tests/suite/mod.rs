mod browser;
mod cdp;
mod common;
mod http;
