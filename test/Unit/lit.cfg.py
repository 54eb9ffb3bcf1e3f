# -*- Python -*-
# lit configuration for the GoogleTest unit tests: every *Tests binary under
# <build>/test/Unit is run test by test.

import os

import lit.formats

config.name = "DILATTN-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.dilattn_obj_root, "test", "Unit")
config.test_source_root = config.test_exec_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
