"""Build the Cython extensions of refengine; everything else lives in pyproject.toml."""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup


def _extensions():
    exts = []
    for pyx in sorted(glob.glob("refengine/**/*.pyx", recursive=True)):
        module = os.path.splitext(pyx)[0].replace(os.sep, ".")
        # depends: a .pyx including vmath.h (the vectorisable exp/log) is rebuilt when it is edited,
        # and the header ships in sdists
        with open(pyx) as f:
            headers = glob.glob("refengine/kernels/*.h") if "vmath.h" in f.read() else []
        exts.append(Extension(module, [pyx], include_dirs=[numpy.get_include()], depends=headers,
                              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                              extra_compile_args=["-O3"]))
    return cythonize(exts, language_level=3, nthreads=2,
                     compiler_directives={"embedsignature": True})


setup(ext_modules=_extensions())
