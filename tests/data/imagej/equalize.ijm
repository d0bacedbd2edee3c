// Process > Enhance Contrast > Equalize histogram on every input, plain and
// with Alt held (ImageJ's classic equalisation). make_reference.py fills in
// @DIR@ and @NAMES@ and runs this headless:
//   xvfb-run -a java -jar /usr/share/java/ij.jar -batch run.ijm
dir = "@DIR@";
names = split("@NAMES@", ",");
for (i = 0; i < names.length; i++) {
    open(dir + names[i] + ".tif");
    run("Enhance Contrast...", "saturated=0.35 equalize");
    saveAs("Tiff", dir + names[i] + "_imagej.tif");
    close();

    open(dir + names[i] + ".tif");
    setKeyDown("alt");
    run("Enhance Contrast...", "saturated=0.35 equalize");
    setKeyDown("none");
    saveAs("Tiff", dir + names[i] + "_imagej-classic.tif");
    close();
}
