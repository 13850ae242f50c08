# Type stub for the private f2py extension stilt._core (f2py does not generate stubs).
# Each section mirrors one section of fortran/_core_wrap.f90.
import numpy as np
import numpy.typing as npt

def core_status_codes() -> npt.NDArray[np.int32]: ...
