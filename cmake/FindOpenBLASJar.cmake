# Finds the OpenBLAS library and headers unpacked from the bytedeco preset jar
# (org.bytedeco:openblas:<version>:linux-x86_64), never the system's OpenBLAS.
#
# The jar's own OpenBLASConfig.cmake points at a file that is not in the jar,
# so we locate the two things we need by hand.
#
# Input:   OPENBLAS_JAR_DIR  folder holding libopenblas.so.0 and include/cblas.h
#                            (Maven passes target/openblas/org/bytedeco/openblas/linux-x86_64)
# Output:  OpenBLASJar_FOUND, imported target OpenBLAS::OpenBLAS, OPENBLAS_JAR_VERSION

set(OPENBLAS_JAR_DIR "" CACHE PATH "Folder with libopenblas.so.0 and include/ unpacked from the bytedeco openblas jar")

find_path(OPENBLAS_JAR_INCLUDE_DIR cblas.h
  PATHS "${OPENBLAS_JAR_DIR}/include" NO_DEFAULT_PATH)
find_file(OPENBLAS_JAR_LIBRARY libopenblas.so.0
  PATHS "${OPENBLAS_JAR_DIR}" NO_DEFAULT_PATH)

if(OPENBLAS_JAR_INCLUDE_DIR AND EXISTS "${OPENBLAS_JAR_INCLUDE_DIR}/openblas_config.h")
  file(STRINGS "${OPENBLAS_JAR_INCLUDE_DIR}/openblas_config.h" _ob_version_line
       REGEX "#define OPENBLAS_VERSION")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" OPENBLAS_JAR_VERSION "${_ob_version_line}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenBLASJar
  REQUIRED_VARS OPENBLAS_JAR_LIBRARY OPENBLAS_JAR_INCLUDE_DIR
  VERSION_VAR OPENBLAS_JAR_VERSION
  FAIL_MESSAGE "OpenBLAS from the bytedeco jar not found: set -DOPENBLAS_JAR_DIR=<unpacked .../org/bytedeco/openblas/linux-x86_64> (mvn does this for you)")

if(OpenBLASJar_FOUND AND NOT TARGET OpenBLAS::OpenBLAS)
  add_library(OpenBLAS::OpenBLAS SHARED IMPORTED)
  set_target_properties(OpenBLAS::OpenBLAS PROPERTIES
    IMPORTED_LOCATION "${OPENBLAS_JAR_LIBRARY}"
    IMPORTED_SONAME "libopenblas.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${OPENBLAS_JAR_INCLUDE_DIR}")
endif()
mark_as_advanced(OPENBLAS_JAR_INCLUDE_DIR OPENBLAS_JAR_LIBRARY)
