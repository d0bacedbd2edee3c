// Process > Enhance Contrast with Normalize on every input, at several saturated
// percentages; stacks also with "process all slices" (each slice its own
// histogram) and "use stack histogram". make_stretch_reference.py fills in @DIR@,
// @NAMES@ and @STACKS@ and runs this headless:
//   xvfb-run -a java -jar /usr/share/java/ij.jar -batch run.ijm
dir = "@DIR@";
names = split("@NAMES@", ",");
saturated = newArray("0.35", "0", "5");
for (i = 0; i < names.length; i++) {
    for (s = 0; s < saturated.length; s++) {
        open(dir + names[i] + ".tif");
        run("Enhance Contrast...", "saturated=" + saturated[s] + " normalize");
        saveAs("Tiff", dir + names[i] + "_s" + saturated[s] + ".tif");
        close();
    }
}
stacks = split("@STACKS@", ",");
for (i = 0; i < stacks.length; i++) {
    open(dir + stacks[i] + ".tif");
    run("Enhance Contrast...", "saturated=0.35 normalize process_all");
    saveAs("Tiff", dir + stacks[i] + "_slices.tif");
    close();
    open(dir + stacks[i] + ".tif");
    run("Enhance Contrast...", "saturated=0.35 normalize process_all use");
    saveAs("Tiff", dir + stacks[i] + "_stack.tif");
    close();
}
