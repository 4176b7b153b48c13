# Build the Windows kiosk installer.
# Targets: Windows 10 version 1809 (build 17763) or later and Windows 11, x64 only: the floor of the Qt 6 that
# PySide6 brings (Python 3.11 itself would run on 8.1). The setup program refuses older Windows (MinVersion in
# cunzhan.iss). Tried: nothing on Windows yet. This recipe has not been built or run on any Windows machine (the
# project's machines are Debian; PyInstaller cannot cross-build and Inno Setup is a Windows program); see
# docs/install.md. Run on Windows 10/11 x64 with Python 3.11 (x64) and Inno Setup 6.3+ installed:
#   powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1
# Produces dist\windows\cunzhan-kiosk\ (PyInstaller) and dist\cunzhan-kiosk-setup-<version>.exe (Inno Setup).
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$top = Resolve-Path (Join-Path $here "..\..")
Set-Location $top

$version = (Select-String -Path pyproject.toml -Pattern '^version\s*=\s*"([^"]+)"').Matches[0].Groups[1].Value
$languages = Join-Path $here "languages\ChineseSimplified.isl"
if (-not (Test-Path $languages)) {
    Write-Error ("Inno Setup's Simplified Chinese messages are missing: copy ChineseSimplified.isl from Inno Setup's " +
                 "unofficial translations (jrsoftware.org/files/istrans/) to $languages")
}

# A clean build environment, only for this build.
$venv = Join-Path $top "build\win-venv"
if (-not (Test-Path "$venv\Scripts\python.exe")) { py -3.11 -m venv $venv }
& "$venv\Scripts\python.exe" -m pip install --upgrade pip
& "$venv\Scripts\python.exe" -m pip install ".[kiosk]" "pyinstaller>=6.5" pywin32 comtypes
& "$venv\Scripts\python.exe" -m cunzhan.i18n compile

& "$venv\Scripts\pyinstaller.exe" --noconfirm --distpath (Join-Path $top "dist\windows") `
    --workpath (Join-Path $top "build\pyinstaller") (Join-Path $here "cunzhan.spec")

$iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe"
if (-not (Test-Path $iscc)) { $iscc = "ISCC.exe" }
& $iscc "/DAppVersion=$version" "/DTop=$top" (Join-Path $here "cunzhan.iss")
Write-Host "Built dist\cunzhan-kiosk-setup-$version.exe"
