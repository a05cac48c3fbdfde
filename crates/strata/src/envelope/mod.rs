//! The envelope: the versioned binary record every lower tier stores. (Being written.)
