//! Transports: the only code that opens sockets or processes.
