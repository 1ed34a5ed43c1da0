//! Git: cached mirrors, reading trees at revisions, building commits without checkouts, pushing.
