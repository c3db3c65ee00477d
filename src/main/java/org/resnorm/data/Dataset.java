package org.resnorm.data;

import java.util.Arrays;

/**
 * A labelled image dataset held in memory: images as float32 N x C x H x W (row-major, NCHW,
 * already normalized) in one {@code float[]}, labels as {@code int[]} in 0..numClasses-1.
 * Immutable by convention: {@link #images()} exposes the backing array without a copy for the
 * loader; do not modify it.
 *
 * <p>The readers ({@link FashionMnist}, {@link Cifar}) build these; any other source can use
 * the constructor. A single float[] holds at most about 2^31 values (e.g. all of CIFAR-10
 * train, 50000 x 3072 = 154M floats, 614 MB).
 */
public final class Dataset {
  private final String name;
  private final float[] images;
  private final int[] labels;
  private final int channels;
  private final int height;
  private final int width;
  private final int numClasses;
  private final Normalization normalization;
  private final int cropPadding;

  /**
   * @param name a short description for messages ("CIFAR-10 train")
   * @param images N*C*H*W normalized values (kept, not copied)
   * @param labels N labels in 0..numClasses-1 (kept, not copied)
   * @param normalization how the pixels were normalized (null: unknown / none)
   * @param cropPadding the zero padding of the default training crop ({@link CropFlip}); 0 for none
   */
  public Dataset(String name, float[] images, int[] labels, int channels, int height, int width, int numClasses,
      Normalization normalization, int cropPadding) {
    if (images == null || labels == null) {
      throw new IllegalArgumentException("images and labels must not be null");
    }
    if (channels <= 0 || height <= 0 || width <= 0 || numClasses <= 0) {
      throw new IllegalArgumentException("channels, height, width and numClasses must be positive, got C=" + channels
          + " H=" + height + " W=" + width + " classes=" + numClasses);
    }
    if (cropPadding < 0) {
      throw new IllegalArgumentException("cropPadding must be >= 0, got " + cropPadding);
    }
    long per = (long) channels * height * width;
    if ((long) labels.length * per != images.length) {
      throw new IllegalArgumentException("images has " + images.length + " values but " + labels.length + " labels x "
          + channels + "x" + height + "x" + width + " need " + (long) labels.length * per);
    }
    if (normalization != null && normalization.channels() != channels) {
      throw new IllegalArgumentException("normalization has " + normalization.channels() + " channels, images have "
          + channels);
    }
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= numClasses) {
        throw new IllegalArgumentException("label " + labels[i] + " of example " + i + " is out of range 0.."
            + (numClasses - 1));
      }
    }
    this.name = name == null ? "dataset" : name;
    this.images = images;
    this.labels = labels;
    this.channels = channels;
    this.height = height;
    this.width = width;
    this.numClasses = numClasses;
    this.normalization = normalization;
    this.cropPadding = cropPadding;
  }

  public String name() {
    return name;
  }

  /** Number of examples N. */
  public int size() {
    return labels.length;
  }

  public int channels() {
    return channels;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  /** C * H * W, the values per image. */
  public int imageSize() {
    return channels * height * width;
  }

  public int numClasses() {
    return numClasses;
  }

  /** The normalization the images went through, or null. */
  public Normalization normalization() {
    return normalization;
  }

  /** Zero padding of the default training crop: 4 for CIFAR, 2 for (Fashion-)MNIST. */
  public int cropPadding() {
    return cropPadding;
  }

  /** The backing N*C*H*W array, not a copy: read only. */
  public float[] images() {
    return images;
  }

  /** A copy of the labels. */
  public int[] labels() {
    return labels.clone();
  }

  public int label(int i) {
    return labels[i];
  }

  /** A copy of image {@code i} (C*H*W values). */
  public float[] image(int i) {
    int per = imageSize();
    return Arrays.copyOfRange(images, i * per, (i + 1) * per);
  }

  /** The first {@code n} examples (all of them when n >= size()), copied. */
  public Dataset limit(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("limit must be positive, got " + n);
    }
    if (n >= size()) {
      return this;
    }
    return new Dataset(name, Arrays.copyOf(images, n * imageSize()), Arrays.copyOf(labels, n), channels, height, width,
        numClasses, normalization, cropPadding);
  }

  @Override
  public String toString() {
    return name + " (" + size() + " x " + channels + "x" + height + "x" + width + ", " + numClasses + " classes)";
  }
}
