package org.resnorm.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.resnorm.data.Augmentation;
import org.resnorm.data.BatchLoader;
import org.resnorm.data.BatchSource;
import org.resnorm.data.Dataset;
import org.resnorm.data.ImageFolder;
import org.resnorm.data.ImageFolderLoader;
import org.resnorm.data.ImageNetTransform;
import org.resnorm.data.Split;

/**
 * A run's data as batch sources, one per epoch: in memory (Fashion-MNIST, CIFAR: {@link Dataset}
 * + {@link BatchLoader}) or streamed from an ImageNet-style folder ({@link ImageFolderLoader},
 * decoded on background threads). Epoch {@code e} of seed {@code s} is seeded with
 * {@code s + e} either way, so runs resume exactly.
 */
abstract class RunData {
  abstract String name();

  abstract int channels();

  abstract int height();

  abstract int width();

  abstract int classes();

  abstract int trainSize();

  abstract int testSize();

  /** One shuffled, augmented (or not) epoch of full batches. */
  abstract BatchSource trainEpoch(int batch, long seed, int epoch, boolean augment);

  /** The test split in memory, for analysis during training (null for image folders). */
  Dataset testDataset() {
    return null;
  }

  /** The test split in order, the last batch partial; {@code tenCrop} only for folders. */
  abstract BatchSource test(int batch, boolean tenCrop);

  static RunData open(String dataset, Path dir, int limitTrain, int limitTest, int crop, int resize) {
    if (dataset.toLowerCase(Locale.ROOT).equals("imagenet")) {
      if (dir == null) {
        throw new IllegalArgumentException("--data is required for imagenet (a folder with train/<class>/*.JPEG and "
            + "val/<class>/*.JPEG)");
      }
      if (limitTrain > 0 || limitTest > 0) {
        throw new IllegalArgumentException("--limit-train / --limit-test are not supported for image folders (the "
            + "first N files would all be of the first classes): point --data at a smaller folder");
      }
      if (crop < 8 || resize < crop) {
        throw new IllegalArgumentException("need --crop >= 8 and --resize >= --crop, got " + crop + " and " + resize);
      }
      return new Folder(ImageFolder.open(dir), crop, resize);
    }
    return new InMemory(Datasets.load(dataset, dir, Split.TRAIN, limitTrain),
        Datasets.load(dataset, dir, Split.TEST, limitTest));
  }

  private static final class InMemory extends RunData {
    private final Dataset train;
    private final Dataset test;

    InMemory(Dataset train, Dataset test) {
      this.train = train;
      this.test = test;
    }

    @Override
    String name() {
      return train.name();
    }

    @Override
    Dataset testDataset() {
      return test;
    }

    @Override
    int channels() {
      return train.channels();
    }

    @Override
    int height() {
      return train.height();
    }

    @Override
    int width() {
      return train.width();
    }

    @Override
    int classes() {
      return train.numClasses();
    }

    @Override
    int trainSize() {
      return train.size();
    }

    @Override
    int testSize() {
      return test.size();
    }

    @Override
    BatchSource trainEpoch(int batch, long seed, int epoch, boolean augment) {
      return BatchLoader.builder(train).batchSize(batch).shuffle(true).seed(seed + epoch)
          .augmentation(augment ? Augmentation.cropFlip(train.cropPadding()) : Augmentation.NONE).dropLast(true)
          .epochs(1).build();
    }

    @Override
    BatchSource test(int batch, boolean tenCrop) {
      if (tenCrop) {
        throw new IllegalArgumentException("ten-crop evaluation is for image folders (imagenet)");
      }
      return BatchLoader.builder(test).batchSize(batch).shuffle(false).dropLast(false).epochs(1).build();
    }
  }

  private static final class Folder extends RunData {
    private final ImageFolder folder;
    private final ImageNetTransform transform;
    private final int crop;

    Folder(ImageFolder folder, int crop, int resize) {
      this.folder = folder;
      this.crop = crop;
      this.transform = crop == 224 && resize == 256 ? ImageNetTransform.imagenet() : ImageNetTransform.of(crop, resize);
    }

    @Override
    String name() {
      return "image folder " + folder.root();
    }

    @Override
    int channels() {
      return 3;
    }

    @Override
    int height() {
      return crop;
    }

    @Override
    int width() {
      return crop;
    }

    @Override
    int classes() {
      return folder.numClasses();
    }

    @Override
    int trainSize() {
      return folder.size(Split.TRAIN);
    }

    @Override
    int testSize() {
      return folder.size(Split.TEST);
    }

    @Override
    BatchSource trainEpoch(int batch, long seed, int epoch, boolean augment) {
      return ImageFolderLoader.builder(folder, Split.TRAIN).batchSize(batch).transform(transform)
          .mode(augment ? ImageFolderLoader.Mode.TRAIN : ImageFolderLoader.Mode.CENTER_CROP).shuffle(true)
          .seed(seed + epoch).dropLast(true).epochs(1).build();
    }

    @Override
    BatchSource test(int batch, boolean tenCrop) {
      return ImageFolderLoader.builder(folder, Split.TEST).batchSize(batch).transform(transform)
          .mode(tenCrop ? ImageFolderLoader.Mode.TEN_CROP : ImageFolderLoader.Mode.CENTER_CROP).shuffle(false)
          .dropLast(false).epochs(1).build();
    }
  }
}
