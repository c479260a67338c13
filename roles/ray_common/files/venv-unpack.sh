# Unpacks a packed Ray virtualenv beside its final place and moves it there whole, so an
# interrupted unpack leaves no half-made venv with a bin/ray in it. Run as
#   sh -ec "$(cat venv-unpack.sh)" sh PACK VENV NICE KEY CACHE_PATH
# PACK is removed afterwards; an archive that does not record KEY is refused and removed.
pack=$1; venv=$2
case "$venv" in /?*/?*) ;; *) echo "refusing to replace $venv: not two levels deep" >&2; exit 2;; esac
rm -rf "$venv.part"; mkdir -p "$venv.part"; nice -n "$3" tar -xf "$pack" -C "$venv.part"
if [ "$(cat "$venv.part/.raydeploy-venv" 2>/dev/null)" != "$4" ]; then
  rm -rf "$venv.part" "$pack"
  echo "the packed venv $5 on the controller was not built as $4: delete it and run again" >&2; exit 3
fi
rm -rf "$venv"; mv "$venv.part" "$venv"; rm -f "$pack"
