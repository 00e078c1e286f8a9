/* SPDX-License-Identifier: MIT */
#ifndef VHU_VERSION_H
#define VHU_VERSION_H

/* Marks the functions libvhu exports; everything else is hidden. */
#if defined(VHU_BUILDING_LIB)
#define VHU_API __attribute__((visibility("default")))
#else
#define VHU_API
#endif

#define VHU_VERSION_MAJOR 0
#define VHU_VERSION_MINOR 1
#define VHU_VERSION_PATCH 0

/**
 * vhu_version_string() - the library's version, e.g. "0.1.0".
 *
 * Return: a static string; never NULL.
 */
VHU_API const char *vhu_version_string(void);

#endif /* VHU_VERSION_H */
