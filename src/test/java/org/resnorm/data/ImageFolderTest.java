package org.resnorm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderTest {
  @TempDir
  Path root;

  private Path image(String relative) {
    return ImageFiles.png(root.resolve(relative), ImageFiles.smooth(3, 4, relative.length()));
  }

  /** train: b_cat 2, a_dog 3, c_fish 1 images; val: a_dog 1, c_fish 2. */
  private void standardTree() {
    image("train/b_cat/2.png");
    image("train/b_cat/1.JPEG");
    image("train/a_dog/x.jpg");
    image("train/a_dog/a.PNG");
    image("train/a_dog/m.jpeg");
    image("train/c_fish/only.JPEG");
    image("val/c_fish/v2.JPEG");
    image("val/c_fish/v1.JPEG");
    image("val/a_dog/v.JPEG");
  }

  @Test
  void classesAreTheSortedTrainFoldersAndLabelsFollowThem() {
    standardTree();
    // ignored: hidden files and folders, plain files next to the class folders
    DataFiles.write(root.resolve("train/b_cat/.DS_Store"), new byte[] {1, 2});
    DataFiles.write(root.resolve("train/.hidden/z.JPEG"), new byte[] {1});
    DataFiles.write(root.resolve("train/n01440764.tar"), new byte[] {1});
    DataFiles.write(root.resolve("val/README.txt"), new byte[] {1});
    ImageFolder f = ImageFolder.open(root);
    assertEquals(List.of("a_dog", "b_cat", "c_fish"), f.classes());
    assertEquals(3, f.numClasses());
    assertEquals(6, f.size(Split.TRAIN));
    assertEquals(3, f.size(Split.TEST));
    assertArrayEquals(new int[] {3, 2, 1}, f.classCounts(Split.TRAIN));
    assertArrayEquals(new int[] {1, 0, 2}, f.classCounts(Split.TEST));
    String[] trainFiles = {"a_dog/a.PNG", "a_dog/m.jpeg", "a_dog/x.jpg", "b_cat/1.JPEG", "b_cat/2.png",
        "c_fish/only.JPEG"};
    int[] trainLabels = {0, 0, 0, 1, 1, 2};
    for (int i = 0; i < 6; i++) {
      assertEquals(root.resolve("train").resolve(trainFiles[i]), f.file(Split.TRAIN, i));
      assertEquals(trainLabels[i], f.label(Split.TRAIN, i));
    }
    String[] valFiles = {"a_dog/v.JPEG", "c_fish/v1.JPEG", "c_fish/v2.JPEG"};
    int[] valLabels = {0, 2, 2};
    for (int i = 0; i < 3; i++) {
      assertEquals(root.resolve("val").resolve(valFiles[i]), f.file(Split.TEST, i));
      assertEquals(valLabels[i], f.label(Split.TEST, i));
    }
    assertEquals(root.resolve("train"), f.dir(Split.TRAIN));
    assertEquals(root.resolve("val"), f.dir(Split.TEST));
  }

  @Test
  void pngDecodesToTheExactSamples() {
    BufferedImage im = ImageFiles.rgb(3, 5, (y, x) -> ImageFiles.pack(50 * x + y, 255 - 40 * y, 17 * x * y));
    Path file = ImageFiles.png(root.resolve("a.png"), im);
    RgbImage r = RgbImage.read(file);
    assertEquals(3, r.height());
    assertEquals(5, r.width());
    for (int y = 0; y < 3; y++) {
      for (int x = 0; x < 5; x++) {
        assertEquals((50 * x + y) / 255f, r.get(0, y, x));
        assertEquals((255 - 40 * y) / 255f, r.get(1, y, x));
        assertEquals((17 * x * y) / 255f, r.get(2, y, x));
      }
    }
  }

  @Test
  void greyAndPaletteImagesBecomeRgb() {
    BufferedImage grey = new BufferedImage(4, 2, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < 2; y++) {
      for (int x = 0; x < 4; x++) {
        grey.getRaster().setSample(x, y, 0, 30 * x + 100 * y);
      }
    }
    // the stored sample, not its linear-to-sRGB conversion (100 would become 168)
    for (Path file : new Path[] {ImageFiles.png(root.resolve("g.png"), grey), ImageFiles.jpeg(root.resolve("g.jpg"),
        grey)}) {
      RgbImage r = RgbImage.read(file);
      double tolerance = file.toString().endsWith(".png") ? 0 : 8 / 255.0; // JPEG is lossy
      for (int y = 0; y < 2; y++) {
        for (int x = 0; x < 4; x++) {
          for (int c = 0; c < 3; c++) {
            assertEquals((30 * x + 100 * y) / 255.0, r.get(c, y, x), tolerance + 1e-7, file + " " + c + y + x);
          }
        }
      }
    }
    byte[] reds = {(byte) 255, 0, 10};
    byte[] greens = {0, (byte) 128, 20};
    byte[] blues = {0, 0, 30};
    BufferedImage palette = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_INDEXED,
        new IndexColorModel(8, 3, reds, greens, blues));
    for (int x = 0; x < 3; x++) {
      palette.getRaster().setSample(x, 0, 0, 2 - x);
    }
    RgbImage p = RgbImage.read(ImageFiles.png(root.resolve("p.png"), palette));
    float[] want = {10, 0, 255, 20, 128, 0, 30, 0, 0}; // channel-major: pixel x has palette entry 2 - x
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i] / 255f, p.data()[i], "value " + i);
    }
  }

  @Test
  void jpegDecodesCloseToTheOriginal() {
    BufferedImage im = ImageFiles.smooth(16, 24, 3);
    RgbImage r = RgbImage.read(ImageFiles.jpeg(root.resolve("a.JPEG"), im));
    assertEquals(16, r.height());
    assertEquals(24, r.width());
    double err = 0;
    for (int y = 0; y < 16; y++) {
      for (int x = 0; x < 24; x++) {
        int rgb = im.getRGB(x, y);
        err += Math.abs(r.get(0, y, x) - ((rgb >> 16) & 255) / 255.0);
        err += Math.abs(r.get(1, y, x) - ((rgb >> 8) & 255) / 255.0);
        err += Math.abs(r.get(2, y, x) - (rgb & 255) / 255.0);
      }
    }
    assertTrue(err / (3 * 16 * 24) < 0.05, "mean abs error " + err / (3 * 16 * 24));
  }

  private static void assertFails(Path path, String problem, Runnable r) {
    DatasetException e = assertThrows(DatasetException.class, r::run);
    assertEquals(path, e.file(), e.getMessage());
    assertTrue(e.getMessage().startsWith(path.toString() + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(problem), e.getMessage());
  }

  @Test
  void missingFoldersAreNamed() {
    assertFails(root.resolve("nowhere"), "directory not found", () -> ImageFolder.open(root.resolve("nowhere")));
    assertFails(root.resolve("train"), "missing", () -> ImageFolder.open(root));
    image("train/a/1.JPEG");
    assertFails(root.resolve("val"), "missing", () -> ImageFolder.open(root));
    DataFiles.write(root.resolve("val"), new byte[] {1});
    assertFails(root.resolve("val"), "is not a directory", () -> ImageFolder.open(root));
  }

  @Test
  void emptySplitsAndClassFoldersAreNamed() {
    ImageFiles.mkdirs(root.resolve("train"));
    ImageFiles.mkdirs(root.resolve("val/a"));
    image("val/a/1.JPEG");
    assertFails(root.resolve("train"), "no class folders", () -> ImageFolder.open(root));
    image("train/a/1.JPEG");
    ImageFiles.mkdirs(root.resolve("train/b"));
    DataFiles.write(root.resolve("train/b/.keep"), new byte[0]);
    assertFails(root.resolve("train/b"), "empty class folder", () -> ImageFolder.open(root));
    image("train/b/1.JPEG");
    ImageFiles.mkdirs(root.resolve("val/b"));
    assertFails(root.resolve("val/b"), "empty class folder", () -> ImageFolder.open(root));
  }

  @Test
  void aValClassUnknownToTrainIsNamed() {
    image("train/a/1.JPEG");
    image("train/b/1.JPEG");
    image("val/a/1.JPEG");
    image("val/zebra/1.JPEG");
    DatasetException e = assertThrows(DatasetException.class, () -> ImageFolder.open(root));
    assertEquals(root.resolve("val/zebra"), e.file());
    assertTrue(e.getMessage().contains("class 'zebra' is not one of the 2 classes of " + root.resolve("train")),
        e.getMessage());
  }

  @Test
  void otherFilesInAClassFolderAreNamed() throws IOException {
    image("train/a/1.JPEG");
    image("val/a/1.JPEG");
    DataFiles.write(root.resolve("train/a/notes.txt"), "hi".getBytes(StandardCharsets.US_ASCII));
    assertFails(root.resolve("train/a/notes.txt"), "not an image file", () -> ImageFolder.open(root));
    Files.delete(root.resolve("train/a/notes.txt"));
    image("val/a/deeper/2.JPEG");
    assertFails(root.resolve("val/a/deeper"), "a folder inside a class folder", () -> ImageFolder.open(root));
  }

  @Test
  void aTextFileNamedJpegIsNamedWhenDecoded() {
    Path file = DataFiles.write(root.resolve("x.JPEG"), "hello, world\n".getBytes(StandardCharsets.US_ASCII));
    assertFails(file, "not a JPEG or PNG image: wrong magic number, the file starts with 68 65 6c 6c 6f 2c 20 77",
        () -> RgbImage.read(file));
    Path empty = DataFiles.write(root.resolve("e.jpg"), new byte[0]);
    assertFails(empty, "empty file", () -> RgbImage.read(empty));
    assertFails(root.resolve("none.png"), "file not found", () -> RgbImage.read(root.resolve("none.png")));
  }

  @Test
  void truncatedJpegsAreNamed() {
    byte[] whole = ImageFiles.bytes(ImageFiles.jpeg(root.resolve("whole.JPEG"), ImageFiles.smooth(48, 64, 1)));
    assertEquals(64, RgbImage.read(root.resolve("whole.JPEG")).width());
    // without the end marker, and cut inside the scan data: ImageIO alone returns an image
    // padded with grey for both, and only warns
    for (int len : new int[] {whole.length - 2, whole.length * 2 / 3}) {
      Path cut = DataFiles.write(root.resolve("cut" + len + ".JPEG"), DataFiles.cut(whole, len));
      assertFails(cut, "corrupt or truncated JPEG data", () -> RgbImage.read(cut));
    }
    // cut inside the headers: a decoding error
    Path header = DataFiles.write(root.resolve("header.JPEG"), DataFiles.cut(whole, 200));
    assertFails(header, "cannot decode as JPEG", () -> RgbImage.read(header));
    Path magic = DataFiles.write(root.resolve("magic.JPEG"), DataFiles.cut(whole, 2));
    assertFails(magic, "cannot decode as JPEG", () -> RgbImage.read(magic));
  }

  @Test
  void aTruncatedPngIsNamed() {
    BufferedImage noise = ImageFiles.rgb(40, 50, (y, x) -> (y * 7919 + x * 104729) * 2654435761L > 0 ? 0xffffff
        & (int) ((y * 7919L + x * 104729L) * 2654435761L >>> 7) : 0);
    byte[] whole = ImageFiles.bytes(ImageFiles.png(root.resolve("whole.png"), noise));
    Path cut = DataFiles.write(root.resolve("cut.png"), DataFiles.cut(whole, whole.length / 2));
    assertFails(cut, "cannot decode as PNG", () -> RgbImage.read(cut));
  }

  @Test
  void aCmykJpegIsNamed() throws IOException {
    WritableRaster raster = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, 8, 6, 4, null);
    for (int y = 0; y < 6; y++) {
      for (int x = 0; x < 8; x++) {
        for (int b = 0; b < 4; b++) {
          raster.setSample(x, y, b, (30 * x + 60 * b + y) % 256);
        }
      }
    }
    Path file = root.resolve("cmyk.JPEG");
    ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
    try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
      writer.setOutput(out);
      writer.write(null, new IIOImage(raster, null, null), null);
    } finally {
      writer.dispose();
    }
    // JDKs that refuse CMYK say "Unsupported Image Type", others decode it: both are reported
    assertFails(file, "CMYK", () -> RgbImage.read(file));
  }

  @Test
  void rgbImageChecksItsArguments() {
    assertThrows(IllegalArgumentException.class, () -> new RgbImage(2, 2, new float[11]));
    assertThrows(IllegalArgumentException.class, () -> new RgbImage(0, 2, new float[0]));
    assertEquals(2f, new RgbImage(1, 2, new float[] {0, 0, 0, 0, 0, 2}).get(2, 0, 1));
  }
}
