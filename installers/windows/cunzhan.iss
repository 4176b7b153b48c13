; Inno Setup script for the Cunzhan kiosk on Windows (built by build.ps1 on a Windows machine; see docs/install.md).
; ISCC.exe /DAppVersion=0.1.0 /DTop=C:\src\cunzhan cunzhan.iss
; Every string this script adds is in [CustomMessages] in Simplified Chinese and English; Inno Setup's own wizard
; strings come from Default.isl (English) and languages\ChineseSimplified.isl.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Top
  #define Top "..\.."
#endif

[Setup]
AppId={{6F9ED6A7-7D07-4775-B821-6C3C5F61CA29}
AppName={cm:AppName}
AppVersion={#AppVersion}
AppVerName={cm:AppName} {#AppVersion}
AppPublisher=Cunzhan
DefaultDirName={autopf}\Cunzhan
DefaultGroupName={cm:AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=admin
; Windows 10 1809 (build 17763) or later, Windows 11: Qt 6's floor. Not yet built or tried on Windows (see build.ps1).
MinVersion=10.0.17763
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Top}\dist
OutputBaseFilename=cunzhan-kiosk-setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ChangesEnvironment=yes
CloseApplications=yes
UninstallDisplayName={cm:AppName}
; Chinese first: the wizard follows the Windows display language, Chinese when it is Chinese.
ShowLanguageDialog=auto

[Languages]
Name: "chinesesimplified"; MessagesFile: "languages\ChineseSimplified.isl"
Name: "en"; MessagesFile: "compiler:Default.isl"

[CustomMessages]
chinesesimplified.AppName=村站便民服务自助机
en.AppName=Cunzhan village service kiosk
chinesesimplified.StartAtSignIn=登录 Windows 后自动全屏打开自助机
en.StartAtSignIn=Start the kiosk full-screen when someone signs in to Windows
chinesesimplified.AutoStartGroup=自动启动：
en.AutoStartGroup=Start-up:
chinesesimplified.VoiceTitle=语音指令模型（可以不选）
en.VoiceTitle=Voice command model (optional)
chinesesimplified.VoiceDescription=请选择 U 盘里的中文语音模型文件（例如 vosk-model-small-cn-0.22.zip）。不选也可以，自助机照样能用触屏和按键。
en.VoiceDescription=Choose the Chinese voice model file, for example vosk-model-small-cn-0.22.zip from a USB stick. You can skip this: the kiosk works by touch and keypad without it.
chinesesimplified.VoiceFileLabel=语音模型文件（.zip）：
en.VoiceFileLabel=Voice model file (.zip):
chinesesimplified.VoiceInstalling=正在安装语音模型……
en.VoiceInstalling=Installing the voice model...
chinesesimplified.VoiceFailed=语音模型没有装上。自助机可以先不用语音指令，之后可以重新运行安装程序再选一次。
en.VoiceFailed=The voice model could not be installed. The kiosk works without voice commands; run this setup again to add it later.
chinesesimplified.Downgrade=这台电脑上已经装了更新的版本 %1。为了保护已有的数据，不能装较旧的版本 %2。
en.Downgrade=A newer version (%1) is already installed. To protect its data, the older version %2 cannot be installed.
chinesesimplified.LaunchNow=现在打开自助机
en.LaunchNow=Open the kiosk now
chinesesimplified.Doctor=检查这台电脑（字体、语音、钥匙串）
en.Doctor=Check this computer (fonts, speech, keyring)

[Tasks]
Name: "autostart"; Description: "{cm:StartAtSignIn}"; GroupDescription: "{cm:AutoStartGroup}"

[Files]
Source: "{#Top}\dist\windows\cunzhan-kiosk\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Dirs]
Name: "{commonappdata}\Cunzhan"

[Icons]
Name: "{group}\{cm:AppName}"; Filename: "{app}\cunzhan-kiosk.exe"; Parameters: "run --fullscreen"
Name: "{group}\{cm:Doctor}"; Filename: "{app}\cunzhan-kiosk.exe"; Parameters: "doctor"

[Registry]
; Start at sign-in, for every user (HKLM Run); the kiosk restarts itself through this entry at each sign-in.
Root: HKLM; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "CunzhanKiosk"; \
  ValueData: """{app}\cunzhan-kiosk.exe"" run --fullscreen"; Tasks: autostart; Flags: uninsdeletevalue
; Where the kiosk finds the voice model (only when one was installed).
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: string; \
  ValueName: "CUNZHAN_VOICE_MODEL_PATH"; ValueData: "{commonappdata}\Cunzhan\voice-model"; \
  Check: VoiceModelChosen; Flags: uninsdeletevalue

[Run]
Filename: "{app}\cunzhan-kiosk.exe"; Parameters: "run --fullscreen"; Description: "{cm:LaunchNow}"; \
  Flags: nowait postinstall skipifsilent unchecked

[UninstallDelete]
; The model is ours to remove; the kiosk's data (%LOCALAPPDATA%\cunzhan) is kept: it holds residents' bookings.
Type: filesandordirs; Name: "{commonappdata}\Cunzhan\voice-model"

[Code]
var
  VoicePage: TInputFileWizardPage;

{ Compare dotted versions numerically: -1, 0 or 1. }
function CompareVersions(A, B: String): Integer;
var
  PA, PB, NA, NB: Integer;
begin
  Result := 0;
  while (Result = 0) and ((A <> '') or (B <> '')) do
  begin
    PA := Pos('.', A); PB := Pos('.', B);
    if PA = 0 then begin NA := StrToIntDef(A, 0); A := ''; end
    else begin NA := StrToIntDef(Copy(A, 1, PA - 1), 0); Delete(A, 1, PA); end;
    if PB = 0 then begin NB := StrToIntDef(B, 0); B := ''; end
    else begin NB := StrToIntDef(Copy(B, 1, PB - 1), 0); Delete(B, 1, PB); end;
    if NA < NB then Result := -1
    else if NA > NB then Result := 1;
  end;
end;

{ Refuse a downgrade: the kiosk may already have migrated its database to the newer version's schema. }
function InitializeSetup(): Boolean;
var
  Installed: String;
  Key: String;
begin
  Result := True;
  Key := 'Software\Microsoft\Windows\CurrentVersion\Uninstall\{6F9ED6A7-7D07-4775-B821-6C3C5F61CA29}_is1';
  if RegQueryStringValue(HKLM, Key, 'DisplayVersion', Installed) or
     RegQueryStringValue(HKLM64, Key, 'DisplayVersion', Installed) then
  begin
    if CompareVersions(Installed, '{#AppVersion}') > 0 then
    begin
      SuppressibleMsgBox(FmtMessage(CustomMessage('Downgrade'), [Installed, '{#AppVersion}']), mbError, MB_OK, IDOK);
      Result := False;
    end;
  end;
end;

procedure InitializeWizard();
begin
  VoicePage := CreateInputFilePage(wpSelectTasks, CustomMessage('VoiceTitle'), CustomMessage('VoiceDescription'), '');
  VoicePage.Add(CustomMessage('VoiceFileLabel'), 'Zip|*.zip', '.zip');
end;

function VoiceModelChosen(): Boolean;
begin
  Result := (VoicePage <> nil) and (VoicePage.Values[0] <> '') and FileExists(VoicePage.Values[0]);
end;

{ Unpack the model with PowerShell's Expand-Archive, then move the folder that holds am\final.mdl into place. }
procedure InstallVoiceModel();
var
  Script, Dest, Work: String;
  Code: Integer;
begin
  Dest := ExpandConstant('{commonappdata}\Cunzhan\voice-model');
  Work := ExpandConstant('{commonappdata}\Cunzhan\voice-model-new');
  Script :=
    '$ErrorActionPreference = ''Stop''; ' +
    'Remove-Item -Recurse -Force -ErrorAction SilentlyContinue ''' + Work + '''; ' +
    'Expand-Archive -LiteralPath ''' + VoicePage.Values[0] + ''' -DestinationPath ''' + Work + '''; ' +
    '$m = Get-ChildItem -LiteralPath ''' + Work + ''' -Recurse -Filter final.mdl | ' +
    'Where-Object { $_.Directory.Name -eq ''am'' } | Select-Object -First 1; ' +
    'if (-not $m) { exit 2 }; ' +
    'Remove-Item -Recurse -Force -ErrorAction SilentlyContinue ''' + Dest + '''; ' +
    'Move-Item -LiteralPath $m.Directory.Parent.FullName -Destination ''' + Dest + '''; ' +
    'Remove-Item -Recurse -Force -ErrorAction SilentlyContinue ''' + Work + '''';
  WizardForm.StatusLabel.Caption := CustomMessage('VoiceInstalling');
  if not Exec('powershell.exe', '-NoProfile -ExecutionPolicy Bypass -Command "' + Script + '"', '', SW_HIDE,
              ewWaitUntilTerminated, Code) or (Code <> 0) then
    SuppressibleMsgBox(CustomMessage('VoiceFailed'), mbError, MB_OK, IDOK);
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and VoiceModelChosen() then
    InstallVoiceModel();
end;
