/* SPDX-License-Identifier: MIT */
/* A scanout as a PNG, through libpng (Debian libpng-dev): RGB, or RGBA for the cursor. */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>

#include "driver.h"

int png_write(const char *path, const uint32_t *pixels, uint32_t width, uint32_t height, bool alpha)
{
	unsigned int bpp = alpha ? 4 : 3;
	png_structp png = NULL;
	png_infop info = NULL;
	uint8_t *row = malloc((size_t)width * bpp);
	FILE *f = fopen(path, "wb");
	int ret = -EIO;

	if (!row || !f)
		goto out;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (!png)
		goto out;
	info = png_create_info_struct(png);
	if (!info || setjmp(png_jmpbuf(png)))
		goto out;
	png_init_io(png, f);
	png_set_IHDR(png, info, width, height, 8, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint32_t y = 0; y < height; y++) {
		for (uint32_t x = 0; x < width; x++) {
			uint32_t p = pixels[(size_t)y * width + x];
			uint8_t *o = row + (size_t)x * bpp;

			o[0] = (uint8_t)(p >> 16);
			o[1] = (uint8_t)(p >> 8);
			o[2] = (uint8_t)p;
			if (alpha)
				o[3] = (uint8_t)(p >> 24);
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	ret = 0;
out:
	if (png)
		png_destroy_write_struct(&png, &info);
	if (f && fclose(f) != 0)
		ret = -EIO;
	free(row);
	return ret;
}
