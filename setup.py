"""Build of the C extension dip_sim._hmac (HMAC-SHA256 of patient identifiers; everything else
about the package is in pyproject.toml). ``optional``: where it cannot be compiled, the
package installs and dip_sim.ingest.pseudonym uses the SQL form, with the same values."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dip_sim._hmac", ["dip_sim/native/hmac_sha256.c"],
                             extra_compile_args=["-O3"], optional=True)])
