package dev.diffinstruct.trainer;

import dev.diffinstruct.torch.Device;

/** The {@code --device} option, read and checked in one place for every command and trainer. */
public final class DeviceOption {
    private DeviceOption() {}

    /** The device named {@code name} (auto, cpu, cuda, cuda:N), available here; else one line naming --device. */
    public static Device parse(String name) {
        try {
            return Device.parse(name).check();
        } catch (RuntimeException e) {
            // libtorch's own words say what is missing; the operation's name would only repeat the device
            String why = e instanceof dev.diffinstruct.torch.TorchException te ? te.nativeMessage().strip() : e.getMessage();
            throw new InvalidInputException("--device " + name + ": " + why, e);
        }
    }
}
