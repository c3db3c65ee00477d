package org.resnorm.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * An ImageNet-style folder: {@code root/train/<class>/<image>} and {@code root/val/<class>/<image>},
 * indexed (not decoded: ImageNet does not fit in memory; {@link ImageFolderLoader} decodes the
 * images on the fly). {@link Split#TRAIN} is {@code train/}, {@link Split#TEST} is {@code val/}.
 *
 * <p>The classes are the sorted names of the subfolders of {@code train/} (String order, as
 * Python's and Lua's sort give for ImageNet's wnids); class {@code k} has label {@code k}.
 * {@code val/} must use the same names (it may have fewer classes). Within a class the images
 * are sorted by file name, so example {@code i} of a split is the same file on every machine.
 *
 * <p>Images are the files with the extension {@code .JPEG}, {@code .jpg}, {@code .jpeg} or
 * {@code .png} in any case; hidden entries (names starting with a dot) are skipped, and so are
 * plain files next to the class folders (such as the per-class archives). Anything else is an
 * error raised by {@link #open}, as are a missing {@code train/} or {@code val/}, a split
 * without class folders, an empty class folder, a folder inside a class folder and a
 * {@code val/} class unknown to {@code train/}: a {@link DatasetException} naming the path.
 * Whether a file really is an image is found out when it is decoded ({@link #read}).
 */
public final class ImageFolder {
  /** The folder of {@link Split#TRAIN}. */
  public static final String TRAIN_FOLDER = "train";
  /** The folder of {@link Split#TEST}. */
  public static final String VAL_FOLDER = "val";

  private static final String EXTENSIONS = ".JPEG, .jpg, .jpeg or .png";

  /** One split's examples: file {@code i} is {@code classDirs[labels[i]].resolve(names[i])}. */
  private static final class Part {
    final Path dir;
    final Path[] classDirs;
    final String[] names;
    final int[] labels;
    final int[] counts;

    Part(Path dir, Path[] classDirs, String[] names, int[] labels, int[] counts) {
      this.dir = dir;
      this.classDirs = classDirs;
      this.names = names;
      this.labels = labels;
      this.counts = counts;
    }
  }

  private final Path root;
  private final List<String> classes;
  private final Part train;
  private final Part val;

  private ImageFolder(Path root, List<String> classes, Part train, Part val) {
    this.root = root;
    this.classes = classes;
    this.train = train;
    this.val = val;
  }

  /**
   * Indexes {@code root/train} and {@code root/val}.
   *
   * @throws DatasetException naming the path, when the layout is wrong (see the class comment)
   */
  public static ImageFolder open(Path root) {
    if (root == null) {
      throw new IllegalArgumentException("root must not be null");
    }
    if (!Files.isDirectory(root)) {
      throw new DatasetException(root, Files.exists(root) ? "is not a directory" : "directory not found");
    }
    Path trainDir = splitDir(root, TRAIN_FOLDER);
    Path valDir = splitDir(root, VAL_FOLDER);
    List<String> classes = List.copyOf(classFolders(trainDir));
    Map<String, Integer> labelOf = new HashMap<>();
    for (int k = 0; k < classes.size(); k++) {
      labelOf.put(classes.get(k), k);
    }
    Part train = index(trainDir, classes, labelOf, classes.size());
    List<String> valClasses = classFolders(valDir);
    for (String c : valClasses) {
      if (!labelOf.containsKey(c)) {
        throw new DatasetException(valDir.resolve(c), "class '" + c + "' is not one of the " + classes.size()
            + " classes of " + trainDir);
      }
    }
    Part val = index(valDir, valClasses, labelOf, classes.size());
    return new ImageFolder(root, classes, train, val);
  }

  private static Path splitDir(Path root, String name) {
    Path dir = root.resolve(name);
    if (!Files.isDirectory(dir)) {
      throw new DatasetException(dir, (Files.exists(dir) ? "is not a directory" : "missing")
          + ": an image folder needs " + TRAIN_FOLDER + "/<class>/<images> and " + VAL_FOLDER + "/<class>/<images>");
    }
    return dir;
  }

  /** The sorted names of the non-hidden subfolders; at least one. */
  private static List<String> classFolders(Path dir) {
    List<String> names = new ArrayList<>();
    for (Path p : list(dir)) {
      String n = p.getFileName().toString();
      if (!n.startsWith(".") && Files.isDirectory(p)) {
        names.add(n);
      }
    }
    if (names.isEmpty()) {
      throw new DatasetException(dir, "no class folders: expected one subfolder of images per class");
    }
    names.sort(null);
    return names;
  }

  /** The images of the given classes of a split, class by class, each class sorted by name. */
  private static Part index(Path dir, List<String> classNames, Map<String, Integer> labelOf, int numClasses) {
    Path[] classDirs = new Path[numClasses];
    int[] counts = new int[numClasses];
    List<String[]> perClass = new ArrayList<>();
    int total = 0;
    for (String c : classNames) {
      Path classDir = dir.resolve(c);
      String[] files = images(classDir);
      int label = labelOf.get(c);
      classDirs[label] = classDir;
      counts[label] = files.length;
      perClass.add(files);
      total += files.length;
    }
    String[] names = new String[total];
    int[] labels = new int[total];
    int i = 0;
    for (int k = 0; k < classNames.size(); k++) {
      int label = labelOf.get(classNames.get(k));
      for (String f : perClass.get(k)) {
        names[i] = f;
        labels[i] = label;
        i++;
      }
    }
    return new Part(dir, classDirs, names, labels, counts);
  }

  /** The sorted image file names of a class folder; at least one. */
  private static String[] images(Path classDir) {
    List<String> names = new ArrayList<>();
    for (Path p : list(classDir)) {
      String n = p.getFileName().toString();
      if (n.startsWith(".")) {
        continue;
      }
      if (Files.isDirectory(p)) {
        throw new DatasetException(p, "a folder inside a class folder: expected only image files (" + EXTENSIONS + ")");
      }
      if (!Files.isRegularFile(p)) {
        throw new DatasetException(p, "not a regular file (a broken link?)");
      }
      if (!isImageName(n)) {
        throw new DatasetException(p, "not an image file: expected the extension " + EXTENSIONS);
      }
      names.add(n);
    }
    if (names.isEmpty()) {
      throw new DatasetException(classDir, "empty class folder: no image files (" + EXTENSIONS + ")");
    }
    String[] a = names.toArray(new String[0]);
    Arrays.sort(a);
    return a;
  }

  static boolean isImageName(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return n.endsWith(".jpeg") || n.endsWith(".jpg") || n.endsWith(".png");
  }

  private static List<Path> list(Path dir) {
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
      for (Path p : s) {
        out.add(p);
      }
    } catch (IOException e) {
      throw new DatasetException(dir, "cannot list: " + e, e);
    } catch (DirectoryIteratorException | UncheckedIOException e) {
      throw new DatasetException(dir, "cannot list: " + e.getCause(), e);
    }
    return out;
  }

  private Part part(Split split) {
    if (split == null) {
      throw new IllegalArgumentException("split must not be null");
    }
    return split == Split.TRAIN ? train : val;
  }

  public Path root() {
    return root;
  }

  /** {@code root/train} or {@code root/val}. */
  public Path dir(Split split) {
    return part(split).dir;
  }

  /** The class names; label {@code k} is {@code classes().get(k)}. */
  public List<String> classes() {
    return classes;
  }

  public int numClasses() {
    return classes.size();
  }

  /** Number of images of a split. */
  public int size(Split split) {
    return part(split).names.length;
  }

  /** The file of example {@code i} of a split. */
  public Path file(Split split, int i) {
    Part p = part(split);
    return p.classDirs[p.labels[i]].resolve(p.names[i]);
  }

  /** The label of example {@code i} of a split. */
  public int label(Split split, int i) {
    return part(split).labels[i];
  }

  /** Images per class of a split (0 for a class {@code val/} lacks). */
  public int[] classCounts(Split split) {
    return part(split).counts.clone();
  }

  /** Decodes example {@code i} of a split ({@link RgbImage#read}). */
  public RgbImage read(Split split, int i) {
    return RgbImage.read(file(split, i));
  }

  @Override
  public String toString() {
    return "image folder " + root + " (" + classes.size() + " classes, " + train.names.length + " train, "
        + val.names.length + " val)";
  }
}
