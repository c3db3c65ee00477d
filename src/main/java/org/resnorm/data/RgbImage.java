package org.resnorm.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * A decoded RGB image: 3 x H x W float32 values in [0, 1], channel-major (the red plane, then
 * green, then blue, each row-major), as the NCHW batches want.
 *
 * <p>{@link #read} decodes JPEG and PNG files with {@code javax.imageio}. The format is taken
 * from the content, not the name (ImageNet has a PNG named {@code .JPEG}). 8- and 16-bit
 * samples are used as stored, divided by 255 or 65535 (grey is copied to the three channels;
 * alpha is dropped). Only RGB and grey images are accepted: a CMYK/YCCK JPEG is reported (some
 * JDKs refuse them, others decode them without the colour conversion ImageNet's tools used).
 * Anything the decoder only warns about, such as a JPEG cut short (which it would otherwise
 * fill with grey), is an error: a {@link DatasetException} naming the file and the problem.
 */
public final class RgbImage {
  private final int height;
  private final int width;
  private final float[] data;

  /**
   * @param data 3 * height * width values, channel-major (kept, not copied)
   */
  public RgbImage(int height, int width, float[] data) {
    if (height <= 0 || width <= 0) {
      throw new IllegalArgumentException("height and width must be positive, got " + height + "x" + width);
    }
    if (data == null || data.length != 3L * height * width) {
      throw new IllegalArgumentException("expected 3 x " + height + " x " + width + " values, got "
          + (data == null ? "null" : data.length));
    }
    this.height = height;
    this.width = width;
    this.data = data;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  /** The backing 3*H*W array, not a copy: read only. */
  public float[] data() {
    return data;
  }

  /** Channel {@code c} (0 red, 1 green, 2 blue) at row {@code y}, column {@code x}. */
  public float get(int c, int y, int x) {
    return data[(c * height + y) * width + x];
  }

  /**
   * Decodes a JPEG or PNG file.
   *
   * @throws DatasetException naming the file when it is missing, unreadable, not an image,
   *     corrupt or truncated, or not RGB/grey
   */
  public static RgbImage read(Path file) {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    if (!Files.isRegularFile(file)) {
      throw new DatasetException(file, Files.exists(file) ? "not a regular file" : "file not found");
    }
    try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      if (in == null) {
        throw new DatasetException(file, "cannot open for decoding");
      }
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        throw new DatasetException(file, notAnImage(file));
      }
      ImageReader reader = readers.next();
      String format = reader.getFormatName().toUpperCase(Locale.ROOT);
      try {
        reader.setInput(in, true, true);
        List<String> warnings = new ArrayList<>();
        reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
        BufferedImage image = reader.read(0);
        if (!warnings.isEmpty()) {
          throw new DatasetException(file, "corrupt or truncated " + format + " data: " + String.join("; ", warnings));
        }
        return fromBufferedImage(image, file, format);
      } catch (DatasetException e) {
        throw e;
      } catch (IIOException e) {
        throw new DatasetException(file, "cannot decode as " + format + ": " + describe(e)
            + (isUnsupportedType(e) ? " (CMYK/YCCK JPEG? only RGB and grey images are supported:"
                + " convert it to RGB)" : ""), e);
      } catch (IOException | RuntimeException e) {
        // decoders throw assorted runtime exceptions on corrupt data
        throw new DatasetException(file, "cannot decode as " + format + " (corrupt data?): " + e, e);
      } finally {
        reader.dispose();
      }
    } catch (IOException e) {
      throw new DatasetException(file, "cannot read: " + e, e);
    }
  }

  private static boolean isUnsupportedType(IIOException e) {
    return e.getMessage() != null && e.getMessage().contains("Unsupported Image Type");
  }

  /** The message with its causes', e.g. "Error reading PNG image data (EOFException: ...)". */
  private static String describe(Throwable e) {
    StringBuilder s = new StringBuilder(String.valueOf(e.getMessage()));
    for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
      s.append(" (").append(c.getClass().getSimpleName()).append(": ").append(c.getMessage()).append(')');
    }
    return s.toString();
  }

  /** Why no decoder took the file: empty, or its first bytes (so a text file is obvious). */
  private static String notAnImage(Path file) {
    byte[] head = new byte[8];
    int n = 0;
    try (InputStream s = Files.newInputStream(file)) {
      for (int r; n < head.length && (r = s.read(head, n, head.length - n)) > 0; ) {
        n += r;
      }
    } catch (IOException e) {
      return "not a JPEG or PNG image (no javax.imageio decoder recognises it) and unreadable: " + e;
    }
    if (n == 0) {
      return "empty file (0 bytes), expected a JPEG or PNG image";
    }
    StringBuilder hex = new StringBuilder();
    for (int i = 0; i < n; i++) {
      hex.append(i == 0 ? "" : " ").append(String.format("%02x", head[i] & 0xff));
    }
    return "not a JPEG or PNG image: wrong magic number, the file starts with " + hex
        + " (JPEG starts with ff d8 ff, PNG with 89 50 4e 47)";
  }

  /** The image's samples scaled to [0, 1]; {@code format} names the file's format for messages. */
  static RgbImage fromBufferedImage(BufferedImage image, Path file, String format) {
    int h = image.getHeight();
    int w = image.getWidth();
    ColorModel cm = image.getColorModel();
    int space = cm.getColorSpace().getType();
    if (space == ColorSpace.TYPE_CMYK || space == ColorSpace.TYPE_4CLR) {
      throw new DatasetException(file, "CMYK " + format + ": only RGB and grey images are supported (convert it to RGB)");
    }
    float[] out = new float[3 * h * w];
    int plane = h * w;
    Raster raster = image.getRaster();
    int transfer = raster.getTransferType();
    int colours = cm.getNumColorComponents();
    boolean plain = cm instanceof ComponentColorModel
        && (space == ColorSpace.TYPE_RGB && colours == 3 || space == ColorSpace.TYPE_GRAY && colours == 1)
        && (transfer == DataBuffer.TYPE_BYTE || transfer == DataBuffer.TYPE_USHORT);
    if (plain) {
      // The stored samples themselves: going through getRGB would convert a grey image from
      // linear to sRGB and change every value.
      float[] row = new float[w];
      for (int c = 0; c < colours; c++) {
        int bits = cm.getComponentSize(c);
        float max = (float) ((1L << bits) - 1);
        for (int y = 0; y < h; y++) {
          raster.getSamples(0, y, w, 1, c, row);
          int o = c * plane + y * w;
          for (int x = 0; x < w; x++) {
            out[o + x] = row[x] / max;
          }
        }
      }
      if (colours == 1) {
        System.arraycopy(out, 0, out, plane, plane);
        System.arraycopy(out, 0, out, 2 * plane, plane);
      }
    } else if (space == ColorSpace.TYPE_RGB || space == ColorSpace.TYPE_GRAY) {
      // palette and packed images: their colour model gives 8-bit sRGB
      int[] argb = new int[w];
      for (int y = 0; y < h; y++) {
        image.getRGB(0, y, w, 1, argb, 0, w);
        for (int x = 0; x < w; x++) {
          int o = y * w + x;
          out[o] = ((argb[x] >> 16) & 0xff) / 255f;
          out[plane + o] = ((argb[x] >> 8) & 0xff) / 255f;
          out[2 * plane + o] = (argb[x] & 0xff) / 255f;
        }
      }
    } else {
      throw new DatasetException(file, format + " in an unsupported colour space (type " + space
          + "): only RGB and grey images are supported");
    }
    return new RgbImage(h, w, out);
  }

  @Override
  public String toString() {
    return "RgbImage(" + height + "x" + width + ")";
  }
}
