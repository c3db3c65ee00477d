package org.resnorm.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntBinaryOperator;
import javax.imageio.ImageIO;

/** Writes small PNG and JPEG files with ImageIO, for the image folder tests. */
final class ImageFiles {
  private ImageFiles() {}

  /** An 8-bit RGB image whose pixel (y, x) is {@code rgb.applyAsInt(y, x)}, packed 0xRRGGBB. */
  static BufferedImage rgb(int height, int width, IntBinaryOperator rgb) {
    BufferedImage im = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        im.setRGB(x, y, rgb.applyAsInt(y, x));
      }
    }
    return im;
  }

  static int pack(int r, int g, int b) {
    return (r << 16) | (g << 8) | b;
  }

  /** A smooth colourful image, different for every {@code salt} (JPEG keeps it well). */
  static BufferedImage smooth(int height, int width, int salt) {
    return rgb(height, width, (y, x) -> pack((7 * x + 13 * salt) % 256, (5 * y + 29 * salt) % 256,
        (3 * (x + y) + 41 * salt) % 256));
  }

  static Path png(Path file, BufferedImage image) {
    return write(file, image, "png");
  }

  static Path jpeg(Path file, BufferedImage image) {
    return write(file, image, "jpeg");
  }

  private static Path write(Path file, BufferedImage image, String format) {
    try {
      Files.createDirectories(file.getParent());
      if (!ImageIO.write(image, format, file.toFile())) {
        throw new IllegalStateException("no ImageIO writer for " + format);
      }
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Path write(Path file, byte[] data) {
    return DataFiles.write(file, data);
  }

  static byte[] bytes(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void mkdirs(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
