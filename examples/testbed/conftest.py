"""Keep pytest out of the testbed's libraries: each task's tests are meant to fail until it is solved."""

collect_ignore_glob = ["tasks/*", "libs/*"]
