/**
 * Datasets and batches: readers for Fashion-MNIST / MNIST (IDX, raw or gzip) and CIFAR-10/100
 * (binary), an in-memory {@link org.resnorm.data.Dataset} of normalized NCHW float32 images, the
 * training augmentation ({@link org.resnorm.data.CropFlip}) and a
 * {@link org.resnorm.data.BatchLoader} that shuffles reproducibly and fills batch tensors on a
 * background thread. ImageNet-style folders ({@link org.resnorm.data.ImageFolder}) are streamed
 * instead: {@link org.resnorm.data.ImageFolderLoader} decodes JPEG/PNG files on a pool of threads
 * and applies fb.resnet.torch's ImageNet preprocessing ({@link org.resnorm.data.ImageNetTransform});
 * both loaders are a {@link org.resnorm.data.BatchSource}. Bad files raise
 * {@link org.resnorm.data.DatasetException} naming the file.
 */
package org.resnorm.data;
